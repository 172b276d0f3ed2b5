"""The network and what is measured on it: NB201's TinyNetwork, images, FLOPs, latency, devices."""
