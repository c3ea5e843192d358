"""EMhub instance data and worker configs, as text: the parts of the server that are no process."""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence


def with_hosts(data: str, workers: Sequence[str]) -> str:
    """Instance data (JSON text) with ``workers`` added to the form ``config:hosts``."""
    parsed = json.loads(data)
    [hosts] = [form for form in parsed["forms"] if form["name"] == "config:hosts"]
    for worker in workers:
        hosts["definition"].setdefault(worker, {"alias": worker.split(".")[0]})
    return json.dumps(parsed)

SET_HOST = """
import sys
from emhub.data import DataManager
instance, worker, registered = sys.argv[1:4]
dm = DataManager(instance)
dm._user = dm.get_user_by(username="admin")
form = dm.get_form_by(name="config:hosts")
hosts = dict(form.definition)
if registered == "1":
    hosts.setdefault(worker, {"alias": worker.split(".")[0]})
else:
    hosts.pop(worker, None)
dm.update_form(id=form.id, definition=hosts)
"""


def toml_pairs(table: Mapping[str, Any]) -> list[str]:
    """``key = value`` lines; JSON's scalars, strings and inline objects are TOML enough here."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)
    return [f"{key} = {value(v)}" for key, v in table.items()]
