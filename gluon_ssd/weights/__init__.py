"""Weights: gluon_ssd's model store and file checks, GluonCV's published SSD weights and their
conversion, and ImageNet VGG-16 for the atrous VGG base. Loaders take a built network."""
