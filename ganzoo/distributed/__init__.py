"""Distributed training under torchrun (DistributedDataParallel)."""
