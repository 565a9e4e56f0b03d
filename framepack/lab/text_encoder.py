"""Lab-scale text conditioning: prompts → word ids by hashing, no vocabulary file, any prompt works.

Words (lower-cased runs of letters and digits) are hashed with BLAKE2b into a fixed number of
buckets, so the mapping is stable across processes and machines (Python's `hash` is salted). Id 0
is padding, id 1 a start token that every prompt gets — an empty prompt is just the start token,
which doubles as the unconditional input for classifier-free guidance. The learned embeddings
live in the model (`PackedDiT`), which reads `LabConditioning`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch

PAD_ID = 0
START_ID = 1
_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class LabConditioning:
    """What a lab model is conditioned on besides its latents.

    Args:
        text_ids: (B, L) long word ids from `LabTextEncoder`.
        text_mask: (B, L) bool, True for real tokens (position 0, the start token, is always True).
        image_latent: optional (B, C, H, W) latent of a conditioning image (the start frame).
    """

    text_ids: torch.Tensor
    text_mask: torch.Tensor
    image_latent: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.text_ids.ndim != 2 or self.text_ids.shape != self.text_mask.shape:
            raise ValueError(
                f"text_ids and text_mask must both be (B, L), got {tuple(self.text_ids.shape)} "
                f"and {tuple(self.text_mask.shape)}"
            )
        if not bool(self.text_mask[:, 0].all()):
            raise ValueError("text_mask[:, 0] must be True (every prompt starts with the start token)")
        if self.image_latent is not None and (
            self.image_latent.ndim != 4 or self.image_latent.shape[0] != self.text_ids.shape[0]
        ):
            raise ValueError(
                f"image_latent must be (B, C, H, W) with B = {self.text_ids.shape[0]}, "
                f"got {tuple(self.image_latent.shape)}"
            )

    @property
    def batch_size(self) -> int:
        return int(self.text_ids.shape[0])

    def to(self, device: torch.device | str) -> LabConditioning:
        image = None if self.image_latent is None else self.image_latent.to(device)
        return LabConditioning(self.text_ids.to(device), self.text_mask.to(device), image)

    def without_text(self) -> LabConditioning:
        """The same batch with empty prompts (keeps the image): the unconditional branch of CFG."""
        ids = torch.zeros_like(self.text_ids[:, :1]) + START_ID
        return LabConditioning(ids, torch.ones_like(ids, dtype=torch.bool), self.image_latent)


class LabTextEncoder:
    """Hashes words into `vocab_size` ids; keeps at most `max_tokens` tokens (start token included).

    Args:
        vocab_size: number of ids (>= 3); ids 0 and 1 are padding and the start token.
        max_tokens: longest id sequence; longer prompts are cut after `max_tokens - 1` words.
    """

    def __init__(self, vocab_size: int = 2048, max_tokens: int = 32) -> None:
        if vocab_size < 3:
            raise ValueError(f"vocab_size must be >= 3, got {vocab_size}")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        self.vocab_size = vocab_size
        self.max_tokens = max_tokens

    @staticmethod
    def words(prompt: str) -> list[str]:
        """The words a prompt is read as (lower case, letters and digits)."""
        return _WORD.findall(prompt.lower())

    def word_id(self, word: str) -> int:
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
        return 2 + int.from_bytes(digest, "little") % (self.vocab_size - 2)

    def ids(self, prompt: str) -> list[int]:
        """Start token followed by the prompt's word ids."""
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
        return [START_ID] + [self.word_id(word) for word in self.words(prompt)][: self.max_tokens - 1]

    def encode(self, prompts: Sequence[str] | str) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded (B, L) ids and (B, L) bool mask, L = the longest prompt in the batch."""
        if isinstance(prompts, str):
            prompts = [prompts]
        if len(prompts) == 0:
            raise ValueError("encode needs at least one prompt")
        rows = [self.ids(prompt) for prompt in prompts]
        length = max(len(row) for row in rows)
        ids = torch.full((len(rows), length), PAD_ID, dtype=torch.long)
        mask = torch.zeros((len(rows), length), dtype=torch.bool)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[i, : len(row)] = True
        return ids, mask

    def condition(self, prompts: Sequence[str] | str, image_latent: torch.Tensor | None = None) -> LabConditioning:
        """`LabConditioning` for a batch of prompts (and optional image latents)."""
        ids, mask = self.encode(prompts)
        return LabConditioning(ids, mask, image_latent)
