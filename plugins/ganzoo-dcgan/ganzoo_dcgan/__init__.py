"""Built-in ganzoo plugin ganzoo-dcgan: the DCGAN architecture (Radford et al. 2016)."""
