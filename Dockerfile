# WAASP: one image for every role (API, workers, scheduler, migrations); compose.yml
# picks the role with the command. The default command is `waasp up`, with the embedded
# servers the package brings, so `docker run -p 8000:8000 -v waasp:/data IMAGE` works on its
# own; the API token it generates is in its log and in the volume:
# `docker exec CONTAINER cat /data/api_token`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY . /tmp/waasp-src
RUN pip install /tmp/waasp-src \
    && rm -rf /tmp/waasp-src \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/waasp waasp \
    && install -d -o waasp -g waasp -m 0700 /data

# PostgreSQL refuses to run as root, and nothing here needs root.
USER waasp
WORKDIR /home/waasp
ENV WAASP_HOST=0.0.0.0 \
    WAASP_DATA_DIR=/data \
    WAASP_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8000

CMD ["waasp", "up"]
