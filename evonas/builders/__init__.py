"""Builders of the package's data files (``evonas/data/``): run from a checkout, never by a search.

- ``python -m evonas.builders.package_data --source ../shared/data``: the NB201 table, the latency
  table and the image samples;
- ``python -m evonas.builders.cost``: the FLOPs / params table (fvcore on every cell);
- ``python -m evonas.builders.reference``: the rank references of the aggregate scores.

They sit above every layer because they run the scores and networks whose inputs they write.
"""
