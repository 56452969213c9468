"""The PersonDirectory and DynamicPersonGroups (the preview APIs' data model), as rooms of the core.

Each module plugs into the core layer of the same name and returns the core's own values
(`LiveCollection`, `Change`, `ApplyResult` entries), so plan, drift, show, the gates and the
renderers treat the directory like any collection:

    live      service → the directory's persons (faces per recognition model) and the groups
    diff      desired × live → changes: persons and faces per model, group fields and members
    apply     changes → calls: long-running operations awaited, journaled, resumable
    journal   the operations an apply started and has not yet seen finish
"""
