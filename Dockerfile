# The fleet simulator (and the station, the development CSMS) in a small image.
#   docker build -t ocpp-station .
#   docker run --rm ocpp-station fleet --csms builtin --count 100 --duration 60 --virtual-time
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && rm -rf /src \
    && useradd --uid 10001 --create-home --shell /usr/sbin/nologin fleet \
    && mkdir -p /results && chown fleet /results
WORKDIR /home/fleet
USER 10001:10001
EXPOSE 9108
ENTRYPOINT ["ocpp-station"]
CMD ["fleet", "--help"]
