"""Finish a harness instance after ``emh-data --create_instance``; runs in the EMhub venv.

The stock importer names every session ``S<id>``; the session-transfer test needs the
name a facility's Create Session dialog gives (``<YYYYMMDD><microscope>:<frames folder>``,
as St. Jude's and our stand-in's do), so session 301 is renamed here. Prints the facts
the fixture hands to tests as one JSON object.

Usage: python finish_instance.py INSTANCE_DIR
"""

import json
import sys

from emhub.data import DataManager

TRANSFER_SESSION_ID = 301


def main(instance: str) -> None:
    dm = DataManager(instance)
    dm._user = dm.get_user_by(username="admin")  # updates are made as the admin
    session = dm.get_session_by(id=TRANSFER_SESSION_ID)
    name = f"{session.start:%Y%m%d}{session.resource.name}:S{TRANSFER_SESSION_ID:05d}_grid1"
    dm.update_session(id=TRANSFER_SESSION_ID, name=name)
    session = dm.get_session_by(id=TRANSFER_SESSION_ID)
    owner = session.booking.owner
    facts = {
        "transfer_session": {
            "id": session.id, "name": session.name, "start": session.start.isoformat(),
            "resource": session.resource.name, "owner_email": owner.email,
            "group": dm.get_user_group(owner),
        },
        "sessions": [s.id for s in dm.get_sessions()],
        "workers": sorted(dm.get_config("hosts")),
    }
    json.dump(facts, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
