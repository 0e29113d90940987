"""The two image domains a run translates between, and the names everything derived from them takes.

A run has two domains, A and B (``--domains NAME_A NAME_B``; T1 and T2 for the
tutorial's data, A and B for other folders). Their names label sample grids,
logs and scores, and give each translation direction its key,
``<a>_to_<b>`` in lower case: the file name of the exported generator
(``generators/mri_to_ct.keras``), the ``--direction`` value and the key of
``evaluation.json``.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

from cyclegan_mri.errors import UserError

# Letters, digits, "-", "+" and "."; no "_", so that "<a>_to_<b>" always splits back into its names.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9+.-]{0,31}")


def domain_name(text: str) -> str:
    """A valid domain name (an ``argparse`` type): up to 32 letters, digits, ``-``, ``+`` or ``.``."""
    if not _NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a domain name: use up to 32 letters, digits, '-', '+' or '.' (no '_' or spaces)")
    return text


@dataclass(frozen=True)
class Domains:
    """The names of domain A (a run's first, the source of its forward direction) and domain B."""

    a: str = "A"
    b: str = "B"

    def __post_init__(self):
        for name in (self.a, self.b):
            try:
                domain_name(name)
            except argparse.ArgumentTypeError as error:
                raise UserError(f"--domains: {error}") from None
        if self.a.lower() == self.b.lower():
            raise UserError(f"--domains: the two domains need different names (in any case), got {self.a!r} and "
                            f"{self.b!r}")

    @classmethod
    def of(cls, names) -> "Domains":
        """Domains from a (name A, name B) sequence, as ``run.json`` and ``--domains`` hold them."""
        a, b = names
        return cls(str(a), str(b))

    @property
    def names(self) -> tuple[str, str]:
        return self.a, self.b

    @property
    def forward(self) -> str:
        """The key of the A -> B direction, e.g. ``t1_to_t2``."""
        return f"{self.a.lower()}_to_{self.b.lower()}"

    @property
    def backward(self) -> str:
        """The key of the B -> A direction."""
        return f"{self.b.lower()}_to_{self.a.lower()}"

    @property
    def directions(self) -> tuple[str, str]:
        return self.forward, self.backward

    def source_side(self, direction: str) -> int:
        """0 when ``direction`` translates A into B, 1 when B into A; a one-line error for any other value."""
        if direction == self.forward:
            return 0
        if direction == self.backward:
            return 1
        raise UserError(f"unknown direction {direction!r}: this run's domains are {self.a} and {self.b}, "
                        f"so it is one of {self.forward}, {self.backward}")

    def source_and_target(self, direction: str) -> tuple[str, str]:
        """The names of the source and target domains of ``direction``."""
        side = self.source_side(direction)
        return self.names[side], self.names[1 - side]

    def title(self, direction: str) -> str:
        """``"MRI -> CT"`` for ``mri_to_ct``."""
        return " -> ".join(self.source_and_target(direction))

    @property
    def titles(self) -> dict[str, str]:
        """Each direction's title, forward first."""
        return {direction: self.title(direction) for direction in self.directions}


TUTORIAL = Domains("T1", "T2")
GENERIC = Domains("A", "B")
# A segmentation run maps images (of any contrasts) to label maps.
SEGMENTATION = Domains("MRI", "SEG")
