"""Built-in ganzoo plugin ganzoo-resnet: the SNGAN/BigGAN-style ResNet architecture (Miyato et al. 2018)."""
