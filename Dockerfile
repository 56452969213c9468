# facesync in a container: mount the repository holding your configuration at /repo, and run as
# yourself so that what facesync writes there (.facesync/, the local cache; plan files) is yours:
#   docker build -t facesync .
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/repo" facesync validate
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/repo" -e FACESYNC_ENDPOINT -e FACESYNC_KEY facesync plan
# The key is passed through from the environment (-e FACESYNC_KEY), never baked into the image.
# Without --user the image runs as uid 10001: a mount that uid cannot write costs the local cache,
# not the run (facesync warns "local cache unusable: /repo is not writable (owned by uid 1000,
# facesync runs as uid 10001)" and keeps it in memory), but --out plan.json would still fail.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY facesync ./facesync
RUN pip install --no-cache-dir '.[entra]' && rm -rf /src

# A non-root user by default; any uid works (--user above), since facesync needs no home folder.
RUN useradd --create-home --uid 10001 facesync && mkdir /repo && chown facesync:facesync /repo
USER facesync
WORKDIR /repo

ENTRYPOINT ["facesync"]
CMD ["--help"]
