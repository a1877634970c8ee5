"""The detector's contract, one :class:`LayerSpec` per prediction layer, and the check of saved
LayerSpecs (checkpoints, bundles) against a network's."""
import dataclasses
from dataclasses import dataclass
from typing import Optional, Tuple

from ..utils.checks import is_int

__all__ = ["LayerSpec", "check_saved_layers"]


@dataclass(frozen=True)
class LayerSpec:
    """What one prediction layer of an :class:`SSD` is, as its builder computed it.

    Attributes
    ----------
    source : str
        The backbone tap's trunk point name (``'relu4_3'``), or ``'extra<k>'`` for the extra
        layer making prediction layer ``k``.
    channels : int
        ``C_k`` of the layer's ``(B, C_k, H_k, W_k)`` map (what its head takes).
    stride : int
        The map's real stride in input pixels (the tap's, times each extra's conv stride).
    step : float
        The anchor generator's cell spacing in input pixels (a preset may set it apart from
        ``stride``, e.g. 16 px on VGG's 19x19 stride-16 map at 300 px).
    map_size : (int, int) or None
        ``(H_k, W_k)`` at a square input of the detector's base size; None without a base size.
    num_anchors : int
        Anchors per map location (the head's and the anchor generator's).
    """

    source: str
    channels: int
    stride: int
    step: float
    map_size: Optional[Tuple[int, int]]
    num_anchors: int

    def to_dict(self):
        """The spec as plain JSON types: ``map_size`` a ``[H, W]`` list (or None)."""
        record = dataclasses.asdict(self)
        record["map_size"] = None if self.map_size is None else list(self.map_size)
        return record

    @classmethod
    def from_dict(cls, record, where="layer"):
        """The spec of a :meth:`to_dict` record (as read back from JSON).

        Parameters
        ----------
        record : dict
            ``{"source": str, "channels": int, "stride": int, "step": number, "map_size":
            [H, W] or None, "num_anchors": int}``.
        where : str
            Names the record in error messages (the file and the layer).

        Raises
        ------
        ValueError
            ``record`` is not a dict of exactly these fields, or a field has the wrong type.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(record, dict) or sorted(record) != sorted(names):
            raise ValueError(f"{where} must be a dict of the fields {names}, got {record!r}")
        for name in ("channels", "stride", "num_anchors"):
            if not is_int(record[name]):
                raise ValueError(f"{where}: {name!r} must be an int, got {record[name]!r}")
        if not isinstance(record["source"], str):
            raise ValueError(f"{where}: 'source' must be a str, got {record['source']!r}")
        if isinstance(record["step"], bool) or not isinstance(record["step"], (int, float)):
            raise ValueError(f"{where}: 'step' must be a number, got {record['step']!r}")
        size = record["map_size"]
        if size is not None and (not isinstance(size, (list, tuple)) or len(size) != 2
                                 or not all(is_int(v) for v in size)):
            raise ValueError(f"{where}: 'map_size' must be [H, W] ints or null, got {size!r}")
        return cls(record["source"], int(record["channels"]), int(record["stride"]),
                   float(record["step"]), None if size is None else (int(size[0]), int(size[1])),
                   int(record["num_anchors"]))


def check_saved_layers(records, layers, where, against="the network", fields=None):
    """Check LayerSpecs saved in a file (:meth:`LayerSpec.to_dict` records) against ``layers``.

    Parameters
    ----------
    records : list of dict
        The saved specs, one per prediction layer.
    layers : sequence of LayerSpec or of dict
        What the network really has (dicts may hold only some fields, see ``fields``).
    where : str
        The file, for the messages.
    against : str
        What ``layers`` are, for the messages (``'the network rebuilt from ssd_config'``).
    fields : sequence of str, optional
        The fields compared, default all of :class:`LayerSpec`'s.

    Returns
    -------
    tuple of LayerSpec
        The saved specs.

    Raises
    ------
    ValueError
        A malformed record, another number of layers, or the first field (layer by layer, in
        :class:`LayerSpec`'s order) whose saved value differs; the message names ``where``, the
        layer and the field, and both values.
    """
    if not isinstance(records, list):
        raise ValueError(f"{where}: 'layers' must be a list of per-layer records, got {records!r}")
    saved = tuple(LayerSpec.from_dict(r, f"{where}: layers[{k}]") for k, r in enumerate(records))
    if len(saved) != len(layers):
        raise ValueError(f"{where} records {len(saved)} prediction layers, {against} has "
                         f"{len(layers)}: the file does not belong to this architecture")
    names = [f.name for f in dataclasses.fields(LayerSpec)] if fields is None else list(fields)
    for k, (spec, actual) in enumerate(zip(saved, layers)):
        actual = actual.to_dict() if isinstance(actual, LayerSpec) else actual
        for name in names:
            value = spec.to_dict()[name]
            if value != actual[name]:
                raise ValueError(
                    f"{where}: layer {k} ({spec.source}) has {name} {value!r}, {against} has "
                    f"{actual[name]!r}: the file was edited or comes from an incompatible build")
    return saved
