"""Training recipes for the lab models: the latent codec, the base video model and the
FramePack fine-tunes. Each recipe is a config dataclass read from YAML plus one `train_*`
function; `fpbench train CONFIG` dispatches on the config's `recipe` key."""
