"""What the benchmarks of ``bench/`` share, as a library the scripts there and the tests import.

- ``quality``: the quality protocol (train on the training pairs for a time budget with ``--holdout``, score
  the 9 held-out pairs beside the baselines and the pix2pix, iVAN and lookup-table references, the
  time-to-quality curve and its milestones, summaries over seeds, and the report);
- ``seeds``: the protocol over several seeds for one or more variants, and its report;
- ``plain_loop``: the tutorial's training step as it was written, the yardstick of the fast path.

Each ``bench/*.py`` script is a thin command over these modules (or stands alone); none imports another.
"""
