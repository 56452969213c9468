"""The emulator's HTTP handlers, one module per part of the API, each with its route table:
`collections` (person groups, large person groups, face lists, large face lists), `recognition`
(detect, identify, verify, find similar, group) and `directory` (the PersonDirectory). The app
registers their routes; they see the emulator's state only through `calls.Services`.
"""
