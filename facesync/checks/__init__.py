"""Recognition checks on the live service: `facesync test` (expectations kept in git) and
`facesync audit` (a data-quality review of the configured photos).

spec      the test format (`tests:` in a config file, or `*.test.yaml`) and its loader
resolve   tests and config → what to send (collections, persons, face-list images)
runner    runs the tests against the service
audit     reviews the configured photos
render    results as text, JSON, JUnit XML, GitHub annotations and Markdown
"""
