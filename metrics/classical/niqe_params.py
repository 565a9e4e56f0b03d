"""Obtain NIQE's published model parameters from the package registry (at install, never at run time).

The parameters (`niqe_pris_params.npz`: mu and covariance of the pristine-image model) ship in the
source distribution of `basicsr` 1.4.2 on PyPI (Apache-2.0). This script asks pip for that sdist,
extracts the one file, checks its SHA-256 and writes it atomically to the `data` root of
`metrics.weights` (default <python prefix>/share/framepack-bench/). `make setup` runs it:

    python -m metrics.classical.niqe_params [--target DIR]

The file is not committed to the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SDIST = "basicsr==1.4.2"
MEMBER = "basicsr-1.4.2/basicsr/metrics/niqe_pris_params.npz"
SHA256 = "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"


def install_niqe_params(target_dir: str | os.PathLike | None = None) -> Path:
    """Download basicsr's sdist with pip, extract `niqe_pris_params.npz` into `target_dir`.

    Args:
        target_dir: destination folder (default: the `data` root of `metrics.weights`).

    Returns:
        The path of the installed file (unchanged if it is already there with the right hash).

    Raises:
        RuntimeError if pip cannot get the sdist or the file's hash differs.
    """
    from metrics.weights import root_path

    target = Path(target_dir) if target_dir else root_path("data")
    target.mkdir(parents=True, exist_ok=True)
    destination = target / "niqe_pris_params.npz"
    if destination.is_file() and hashlib.sha256(destination.read_bytes()).hexdigest() == SHA256:
        return destination
    with tempfile.TemporaryDirectory() as scratch:
        # --no-build-isolation: pip only prepares metadata, which needs no extra downloads.
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-build-isolation",
                   "--no-binary", ":all:", SDIST, "-d", scratch]
        done = subprocess.run(command, capture_output=True, text=True)
        archives = list(Path(scratch).glob("basicsr-*.tar.gz"))
        if done.returncode != 0 or not archives:
            raise RuntimeError(f"pip could not download the {SDIST} sdist: {done.stderr.strip()[-500:]}")
        with tarfile.open(archives[0]) as archive:
            data = archive.extractfile(MEMBER).read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise RuntimeError(f"{MEMBER}: SHA-256 {digest} differs from the expected {SHA256}")
    fd, tmp = tempfile.mkstemp(dir=target, suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, destination)
    return destination


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default=None, help="destination folder")
    args = parser.parse_args()
    print(install_niqe_params(args.target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
