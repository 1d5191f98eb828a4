# The meter2cash image: the `m2c` command with every package of the project.
FROM python:3.11-slim
WORKDIR /app
# the Unicode font bills are printed to PDF with
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY config config
COPY meterdata meterdata
COPY vee vee
COPY cis cis
COPY migration migration
COPY scenarios scenarios
COPY meter2cash meter2cash
COPY streams streams
COPY rating rating
COPY storage storage
COPY billing billing
COPY simulators simulators
COPY portal portal
COPY constraints.txt .
RUN pip install --no-cache-dir -c constraints.txt .
USER nobody
ENTRYPOINT ["m2c"]
