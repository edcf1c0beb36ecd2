"""Site profiles: what a cluster imposes on jobs (partition, account, QoS, Python, container, ...).

A profile is YAML, read from `--site FILE` or from the `site:` section of the user config
(`$XDG_CONFIG_HOME/llmplan/site.yaml`, by default `~/.config/llmplan/site.yaml`). A `--site` file may
hold the options at its top level or under `site:`. Every value is validated before anything is
rendered: an unknown key or a value with a shell metacharacter is a PlanInputError naming the key
(the CLI exits 2). Values then appear in `#SBATCH` lines (read by sbatch, not a shell) or as single
shell words, so the allowed characters are those of names, paths and options only.

Example (docs/execution.md, "Site profile"):

    site:
      partition: {prepare: cpu, train: gpu, evaluate: gpu}   # or one name for every stage
      account: proj123
      qos: high
      constraint: h100
      exclusive: true
      reservation: llm-week
      max_time_s: 172800          # longest job; training requeues past it
      prepare_time_s: 14400
      evaluate_time_s: 14400
      run_root: /scratch/proj123/llmplan/runs
      venv: /opt/venvs/llmplan    # python = VENV/bin/python (or python: /path/to/python)
      modules: [cuda/12.4, nccl/2.21]
      container: {image: nvcr.io#nvidia/pytorch:24.05-py3, mounts: [/scratch:/scratch], runtime: pyxis}
      env: {NCCL_DEBUG: INFO, NCCL_IB_HCA: mlx5}
      sbatch: [--mail-type=END]
      max_restarts: 3             # crash restarts of one training job (default from the plan)
      cpus_per_gpu: 8
"""

from __future__ import annotations

import os
import re
from dataclasses import fields
from pathlib import Path

import yaml

from executor.backends.safety import NAME_RE, check_path
from executor.jobs import STAGES, SiteOptions
from planner.errors import PlanInputError

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
VALUE_RE = re.compile(r"^[A-Za-z0-9._/:,=+@%-]{0,256}$")  # env values: no quotes, spaces or $`;&|<>()
MODULE_RE = re.compile(r"^[A-Za-z0-9._+/-]{1,128}$")
IMAGE_RE = re.compile(r"^[A-Za-z0-9._/:#@+-]{1,256}$")
SBATCH_RE = re.compile(r"^--[a-z][a-z0-9-]{0,40}(=[A-Za-z0-9._,:/@%+-]{1,128})?$")
RUNTIMES = ("pyxis", "apptainer")
INTS = {"max_time_s": (60, 366 * 86400), "prepare_time_s": (60, 366 * 86400), "evaluate_time_s": (60, 366 * 86400),
        "min_time_s": (60, 366 * 86400), "max_restarts": (0, 100), "cpus_per_gpu": (1, 512),
        "num_prepare_shards": (0, 10_000)}
NAMES = ("account", "qos", "constraint", "reservation")
KEYS = ("partition", *NAMES, "exclusive", *INTS, "time_margin", "run_root", "python", "venv", "modules",
        "container", "env", "sbatch")
CONTAINER_KEYS = ("image", "mounts", "runtime")


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "llmplan" / "site.yaml"


def _bad(key: str, value, rule: str, source: str) -> PlanInputError:
    return PlanInputError("invalid site option", [f"site.{key}: {value!r} {rule}"], source=source)


def _name(key: str, value, source: str) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise _bad(key, value, "must match ^[A-Za-z0-9._-]{1,64}$ (no spaces or shell metacharacters)", source)
    return value


def _path(key: str, value, source: str) -> str:
    try:
        return check_path(value, f"site.{key}") if isinstance(value, str) else check_path("", f"site.{key}")
    except PlanInputError as err:
        err.source = source
        raise PlanInputError(err.headline, err.lines, source) from None


def _list(key: str, value, source: str) -> list:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise _bad(key, value, "must be a list", source)
    return value


def _container(value, source: str) -> tuple[str, tuple[str, ...], str]:
    if isinstance(value, str):
        value = {"image": value}
    if not isinstance(value, dict):
        raise _bad("container", value, "must be a mapping with image, mounts, runtime", source)
    for key in value:
        if key not in CONTAINER_KEYS:
            raise _bad(f"container.{key}", value[key], f"is not a site option; allowed: {', '.join(CONTAINER_KEYS)}",
                       source)
    image = value.get("image", "")
    if not isinstance(image, str) or not IMAGE_RE.fullmatch(image):
        raise _bad("container.image", image, "must match ^[A-Za-z0-9._/:#@+-]+$ (a registry image or a path)", source)
    mounts = []
    for i, mount in enumerate(_list("container.mounts", value.get("mounts", []), source)):
        parts = mount.split(":") if isinstance(mount, str) else []
        if not 2 <= len(parts) <= 3 or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
            raise _bad(f"container.mounts[{i}]", mount, "must be SRC:DST or SRC:DST:ro", source)
        for part in parts[:2]:
            _path(f"container.mounts[{i}]", part, source)
        mounts.append(mount)
    runtime = value.get("runtime", "pyxis")
    if runtime not in RUNTIMES:
        raise _bad("container.runtime", runtime, f"must be one of {', '.join(RUNTIMES)}", source)
    return image, tuple(mounts), runtime


def parse_site(data, source: str = "site profile") -> SiteOptions:
    """A validated SiteOptions from a `site:` mapping; PlanInputError naming the first bad key."""
    if data is None:
        return SiteOptions()
    if not isinstance(data, dict):
        raise PlanInputError("invalid site profile", [f"site: must be a mapping of options, got {type(data).__name__}"],
                             source=source)
    out: dict = {}
    for key, value in data.items():
        if key not in KEYS:
            raise PlanInputError("invalid site option", [f"site.{key}: unknown option; allowed: {', '.join(KEYS)}"],
                                 source=source)
        if key == "partition":
            if isinstance(value, dict):
                for stage, name in value.items():
                    if stage not in STAGES:
                        raise _bad(f"partition.{stage}", name, f"is not a stage; stages: {', '.join(STAGES)}", source)
                    _name(f"partition.{stage}", name, source)
                out["partitions"] = dict(value)
            else:
                out["partition"] = _name(key, value, source)
        elif key in NAMES:
            out[key] = _name(key, value, source)
        elif key == "exclusive":
            if not isinstance(value, bool):
                raise _bad(key, value, "must be true or false", source)
            out[key] = value
        elif key in INTS:
            low, high = INTS[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise _bad(key, value, f"must be an integer in [{low}, {high}]", source)
            out[key] = value
        elif key == "time_margin":
            if isinstance(value, bool) or not isinstance(value, int | float) or not 1.0 <= value <= 10.0:
                raise _bad(key, value, "must be a number in [1, 10]", source)
            out[key] = float(value)
        elif key in ("run_root", "venv"):
            out[key] = _path(key, value, source)
        elif key == "python":
            out[key] = value if isinstance(value, str) and NAME_RE.fullmatch(value) else _path(key, value, source)
        elif key == "modules":
            mods = _list(key, value, source)
            for i, mod in enumerate(mods):
                if not isinstance(mod, str) or not MODULE_RE.fullmatch(mod):
                    raise _bad(f"modules[{i}]", mod, "must match ^[A-Za-z0-9._+/-]+$ (a module name)", source)
            out[key] = tuple(mods)
        elif key == "container":
            out["container_image"], out["container_mounts"], out["container_runtime"] = _container(value, source)
        elif key == "env":
            if not isinstance(value, dict):
                raise _bad(key, value, "must be a mapping NAME: value", source)
            for name, val in value.items():
                if not isinstance(name, str) or not ENV_NAME_RE.fullmatch(name):
                    raise _bad(f"env.{name}", val, "has a name that is not ^[A-Za-z_][A-Za-z0-9_]*$", source)
                if isinstance(val, bool) or not isinstance(val, str | int | float) or not VALUE_RE.fullmatch(str(val)):
                    raise _bad(f"env.{name}", val, "must match ^[A-Za-z0-9._/:,=+@%-]*$ (no spaces, quotes or "
                               "shell metacharacters)", source)
            out[key] = {k: str(v) for k, v in value.items()}
        elif key == "sbatch":
            lines = _list(key, value, source)
            for i, line in enumerate(lines):
                if not isinstance(line, str) or not SBATCH_RE.fullmatch(line):
                    raise _bad(f"sbatch[{i}]", line, "must be one option like --mail-type=END "
                               "(^--name(=value)?$, value of ordinary characters)", source)
            out["sbatch_lines"] = tuple(lines)
    return SiteOptions(**out)


def read_site(path: str | Path | None = None) -> tuple[SiteOptions, str]:
    """(options, where they came from): `path` (`--site FILE`), else the user config's `site:` section,
    else the defaults ('' as the source)."""
    explicit = path is not None
    file = Path(path) if explicit else user_config_path()
    if not file.is_file():
        if explicit:
            raise PlanInputError("site profile not found", [f"--site: {str(file)!r} is not a file"])
        return SiteOptions(), ""
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as err:
        raise PlanInputError("site profile is not valid YAML", [str(err).replace("\n", " ")], source=str(file)) from None
    if isinstance(data, dict) and "site" in data:
        data = data["site"]
    elif not explicit:
        return SiteOptions(), ""  # a user config without a site: section
    return parse_site(data, str(file)), str(file)


def site_to_data(site: SiteOptions) -> dict:
    """The options that differ from the defaults, as a `site:` mapping (recorded in RUN/site.yaml)."""
    default = SiteOptions()
    out = {}
    for f in fields(SiteOptions):
        value = getattr(site, f.name)
        if value != getattr(default, f.name):
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def site_to_yaml(site: SiteOptions) -> str:
    return yaml.safe_dump({"site": site_to_data(site)}, sort_keys=False)


def site_from_run_dir(run_dir: str | Path) -> SiteOptions:
    """The site options a run was submitted with (RUN/site.yaml), for `resume`."""
    file = Path(run_dir) / "site.yaml"
    if not file.is_file():
        return SiteOptions()
    data = (yaml.safe_load(file.read_text()) or {}).get("site") or {}
    return internal_site(data, str(file))


def internal_site(data: dict, source: str) -> SiteOptions:
    """SiteOptions from site_to_data's own field names (re-validated through parse_site)."""
    public = dict(data)
    if "partitions" in public:
        public["partition"] = public.pop("partitions")
    if "container_image" in public:
        public["container"] = {"image": public.pop("container_image"),
                               "mounts": public.pop("container_mounts", []),
                               "runtime": public.pop("container_runtime", "pyxis")}
    for key in ("container_mounts", "container_runtime"):
        public.pop(key, None)
    if "sbatch_lines" in public:
        public["sbatch"] = public.pop("sbatch_lines")
    return parse_site(public, source)
