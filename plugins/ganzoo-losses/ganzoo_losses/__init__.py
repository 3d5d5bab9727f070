"""Built-in ganzoo plugin: the standard GAN losses."""
