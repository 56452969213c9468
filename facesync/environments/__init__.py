"""Environments: one configuration kept identical on several Face resources (prod, a DR region,
staging) — what the retired Snapshot API did, from git.

`spec` reads the `environments:` block, `resolve` turns one entry into what a `Sync` needs (a
desired state, an endpoint with that environment's key, options), `run` plans and applies several
at once through `Sync`, and `document` joins their plans into one document and finds where the
environments differ from each other.
"""

from facesync.environments.spec import Environment, Environments, load_environments, parse_environments

__all__ = ["Environment", "Environments", "load_environments", "parse_environments"]
