"""The PersonDirectory of the emulator: persons at the resource root, faces per recognition
model, DynamicPersonGroups and the long-running operations that report on their writes.

`store` keeps them in the emulator's SQLite database, `operations` times the operations on the
emulator's clock, `handlers` serves them over HTTP (registered by the app).
"""
