"""The paper's alternative architectures, each a `framepack.generator.Generator` on the shared packed
DiT and the FramePack sampler loop: repeated image-to-video, anchor frames, causal attention (KV
cache), noisy history (diffusion forcing) and history guidance. `baselines.registry` names them for
the harness; `baselines.repeated_i2v_diffusers` runs repeated image-to-video at full scale."""
