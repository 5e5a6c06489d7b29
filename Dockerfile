# fitboard: the dashboard and its training workers in one image.
#   docker build -t fitboard .                                     # CPU torch (default)
#   docker build -t fitboard:cuda --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 .
#   docker build -t fitboard:ray --build-arg EXTRAS=postgres,ray .   # Ray nodes and the app on Ray
# CUDA wheels bundle their runtime libraries, so the slim base serves both; PYTHON_IMAGE
# swaps the base (e.g. an nvidia/cuda image with Python) where a site needs one.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0
# Optional dependency groups of pyproject.toml to install (comma-separated).
ARG EXTRAS=postgres
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
# torch first, from its own index: PyPI's default Linux wheel is the multi-GB CUDA build.
RUN python -m venv /opt/venv \
    && pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
WORKDIR /src
# Dependencies in their own layer: editing the code does not reinstall them.
COPY pyproject.toml constraints.txt ./
RUN python -c "import os, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
extra = [d for e in os.environ['EXTRAS'].split(',') if e for d in p['optional-dependencies'][e]]; \
print('\n'.join(p['dependencies'] + extra))" > /tmp/requirements.txt \
    && pip install --no-cache-dir -c constraints.txt -r /tmp/requirements.txt
COPY README.md ./
COPY trainer ./trainer
COPY app ./app
COPY static ./static
COPY templates ./templates
RUN pip install --no-cache-dir --no-deps . \
    && pip uninstall --yes pip

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="fitboard" \
      org.opencontainers.image.description="Self-hosted dashboard for launching and watching PyTorch training runs" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home fitboard \
    && mkdir /data /storage \
    && chown fitboard:fitboard /data /storage
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FITBOARD_DATA_DIR=/data \
    FITBOARD_HOST=0.0.0.0 \
    FITBOARD_PORT=8000
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8000
# No curl in a slim image: the interpreter that is there does the probe (with the token, as
# /api/health answers only authenticated callers when FITBOARD_TOKEN is set).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; t = os.environ.get('FITBOARD_TOKEN'); r.urlopen(r.Request('http://127.0.0.1:%s/api/health' % os.environ.get('FITBOARD_PORT', '8000'), headers={'Authorization': 'Bearer ' + t} if t else {}), timeout=4)"]
# Applies pending migrations, then serves; SIGTERM stops runs at their next batch.
CMD ["fitboard", "serve"]
