# dbward: multi-stage build, small runtime image, non-root user.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin dbward

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin dbward \
 && install -d -o dbward -g dbward -m 0700 /data
COPY --from=build /src/target/release/dbward /usr/local/bin/dbward
USER dbward
ENV DBWARD_DATA_DIR=/data
VOLUME ["/data"]
# Admin API, PostgreSQL proxy, MySQL proxy.
EXPOSE 8080 6432 6033
ENTRYPOINT ["/usr/local/bin/dbward"]
CMD ["serve"]
