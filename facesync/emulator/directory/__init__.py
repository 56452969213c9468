"""The PersonDirectory of the emulator: persons at the resource root, faces per recognition
model, DynamicPersonGroups and the long-running operations that report on their writes.

`store` keeps them in the emulator's SQLite database and `operations` times the operations on
the emulator's clock; `facesync.emulator.handlers.directory` serves them over HTTP.
"""
