"""ganzoo contracts v2 acceptance distribution (third-party style: only ``from ganzoo import ...``)."""
