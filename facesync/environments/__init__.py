"""Environments: one configuration kept identical on several Face resources (prod, a DR region,
staging) — what the retired Snapshot API did, from git.

`spec` reads the `environments:` block, `resolve` turns one entry into what a `Sync` needs (a
desired state, an endpoint with that environment's key, options), `select` turns a command line
into those for the environments it names, and `load` reads the desired state they share. They run
through the one run path, `facesync.fleet`. Nothing is imported here: a configuration without the
block never loads its parser.
"""
