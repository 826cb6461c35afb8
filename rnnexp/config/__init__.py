"""The config schema (the schema is the documentation) and loading YAML + overrides into it.

This package must stay light: `rnnexp validate` and `rnnexp --help` import it and must not
pull in torch.

schema.py   data and model sections, shared bounds, direction_of (which way a metric improves)
run.py      train sections and Config, the whole run config
sweep.py    the sweep file's schema
loading.py  YAML + overrides -> Config/SweepConfig, errors that name file, line and key
inherit.py  `base:` chains of config files merged into one, and which file wrote each key
recorded.py configs rnnexp wrote under an older version: changed defaults read as they were
grid.py     `sweep CONFIG --grid KEY=V1,V2`: the equivalent grid sweep, built in memory
yamlio.py   reading YAML files: node trees for line numbers, repeated keys and alias bombs refused
"""

from .grid import grid_sweep, parse_grid  # noqa: F401
from .inherit import BASE_DESCRIPTION, BASE_KEY, config_json_schema  # noqa: F401
from .loading import *  # noqa: F403
from .recorded import as_recorded  # noqa: F401
from .run import *  # noqa: F403
from .schema import *  # noqa: F403
from .sweep import *  # noqa: F403
