"""The diffusion core shared by every method: MONAI UNet and schedule, noise, partial chains."""
