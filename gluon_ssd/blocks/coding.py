"""The SSD box coding, shared by the encoder (training targets) and the decoder (inference).

Offsets of a box from its anchor are ``((gx - ax) / aw / s0, (gy - ay) / ah / s1,
log(gw / aw) / s2, log(gh / ah) / s3)`` with the variances ``s`` of :data:`BOX_STDS` (Liu et al.
2016, eq. 2, as in the authors' Caffe code and GluonCV). Targets encoded with other variances
than the decoder's would decode to wrong boxes, hence one constant.
"""
__all__ = ["BOX_STDS"]

BOX_STDS = (0.1, 0.1, 0.2, 0.2)
