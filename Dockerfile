# jbtrfs in a container: a Maven build stage, then a slim JRE runtime with libfuse2.
#   docker build -t jbtrfs .
#   docker run --rm --device /dev/fuse --cap-add SYS_ADMIN -v "$PWD/img:/data" jbtrfs mount -f /data/fs.img /mnt
# BASE is any Debian 12 image; CI passes one made locally with debootstrap (no registry is reachable there).
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
# extra CA certificates (docker/ca/*.crt) for a TLS-inspecting proxy in front of Maven Central
COPY docker/ca/ /usr/local/share/ca-certificates/
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates \
 && update-ca-certificates >/dev/null \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jdk-headless maven \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN mvn -B -q -DskipTests package

FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless libfuse2 fuse \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/fuse-adapter/target/jbtrfs.jar /opt/jbtrfs/jbtrfs.jar
COPY --from=build /src/fuse-adapter/target/native/ /opt/jbtrfs/native/
COPY fuse-adapter/src/main/cds/mount.classlist /opt/jbtrfs/
# bin/jbtrfs is the launcher here too: a mount is one JVM, an unmount none
COPY bin/jbtrfs /opt/jbtrfs/launcher
COPY docker/jbtrfs docker/example /opt/jbtrfs/
# the class data sharing archive is dumped here, by the JVM that maps it, against the jar where it lies: one made in
# the build stage would be refused for the jar's copy (bin/jbtrfs checks the .jdk file and the dates)
RUN ln -s /opt/jbtrfs/jbtrfs /usr/local/bin/jbtrfs && mkdir -p /mnt/jbtrfs \
 && java -Xshare:dump -XX:SharedClassListFile=/opt/jbtrfs/mount.classlist -XX:SharedArchiveFile=/opt/jbtrfs/jbtrfs.jsa \
      -Xlog:cds=off -Xlog:cds+class=off -cp /opt/jbtrfs/jbtrfs.jar >/dev/null \
 && dirname "$(dirname "$(readlink -f "$(command -v java)")")" >/opt/jbtrfs/jbtrfs.jsa.jdk
ENTRYPOINT ["jbtrfs"]
CMD ["--help"]
