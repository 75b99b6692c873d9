"""What the authenticated user may do on a database, read from `connectionStatus` (roles and
privileges): one reading for the doctor's roles step and the Ditto connector check."""

from __future__ import annotations

from dataclasses import dataclass

# Role names that grant what the servers need on one database (a role on that db) or on every database.
_RW_ROLES_ON_DB = {"readWrite", "dbOwner"}
_RW_ROLES_ANY_DB = {"readWriteAnyDatabase", "root", "atlasAdmin", "__system"}
_COLLMOD_ROLES_ON_DB = {"dbAdmin", "dbOwner"}
_COLLMOD_ROLES_ANY_DB = {"dbAdminAnyDatabase", "root", "atlasAdmin", "__system"}
_RW_ACTIONS = {"find", "insert", "update", "remove", "createIndex"}
_READ_ROLES_ON_DB = {"read", *_RW_ROLES_ON_DB}
_READ_ROLES_ANY_DB = {"readAnyDatabase", *_RW_ROLES_ANY_DB}


@dataclass(frozen=True)
class Access:
    enforced: bool
    roles: tuple[str, ...]
    read: bool
    read_write: bool
    coll_mod: bool


def assess_access(status: dict, database: str) -> Access:
    """What the authenticated user may do on `database`, from connectionStatus (roles and privileges)."""
    info = status.get("authInfo", {})
    if not info.get("authenticatedUsers"):
        return Access(enforced=False, roles=(), read=True, read_write=True, coll_mod=True)
    roles = [(r.get("role", ""), r.get("db", "")) for r in info.get("authenticatedUserRoles", [])]

    def by_role(on_db: set[str], any_db: set[str]) -> bool:
        return any((db == database and role in on_db) or (db == "admin" and role in any_db) for role, db in roles)

    actions: set[str] = set()
    for privilege in info.get("authenticatedUserPrivileges", []):
        resource = privilege.get("resource", {})
        if resource.get("anyResource") or (resource.get("db") in (database, "") and resource.get("collection") == ""):
            actions.update(privilege.get("actions", []))
    return Access(
        enforced=True,
        roles=tuple(f"{role}@{db}" for role, db in roles),
        read=by_role(_READ_ROLES_ON_DB, _READ_ROLES_ANY_DB) or "find" in actions,
        read_write=by_role(_RW_ROLES_ON_DB, _RW_ROLES_ANY_DB) or actions >= _RW_ACTIONS,
        coll_mod=by_role(_COLLMOD_ROLES_ON_DB, _COLLMOD_ROLES_ANY_DB) or "collMod" in actions,
    )
