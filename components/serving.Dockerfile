# kfx serving image: KServe 0.21.0 + tensorflow-cpu 2.21.0 (requirements/serving.lock, protobuf 6.33) + kfx's predictor.
# No TFT/TFDV here: the exported SavedModel carries the transform graph and loads with plain TensorFlow.
# Build from the project root:  docker build -f components/serving.Dockerfile -t <repo>/kfx-serving:<version> .
# Run (a pod; KServe mounts the model at /mnt/models):
#   python -m components.serving --model-dir /mnt/models --model-name <name> --host 0.0.0.0 --http-port 8080
# Bytecode is compiled at install: PYTHONDONTWRITEBYTECODE and a non-root user would otherwise make every
# start compile TensorFlow & KServe from source.
FROM python:3.11-slim-bookworm

ARG UV_VERSION=0.13.9
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TF_CPP_MIN_LOG_LEVEL=2

RUN pip install --no-cache-dir "uv==${UV_VERSION}"

WORKDIR /opt/kfx
COPY requirements/serving.lock requirements/serving.lock
RUN uv pip install --system --no-cache --compile-bytecode -r requirements/serving.lock

COPY pyproject.toml README.md ./
COPY components ./components
RUN uv pip install --system --no-cache --compile-bytecode --no-deps . \
    && useradd --uid 1000 --create-home --shell /usr/sbin/nologin kfx

USER 1000
WORKDIR /home/kfx
EXPOSE 8080
# In a pod the server must listen on every interface; locally the CLI defaults to 127.0.0.1.
ENTRYPOINT ["python", "-m", "components.serving", "--host", "0.0.0.0"]
CMD ["--model-dir", "/mnt/models", "--model-name", "model", "--http-port", "8080"]
