package jbtrfs.fuse;

import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;

/**
 * A small HTTP server inside the daemon (one Netty event loop): {@code /metrics} in Prometheus text from
 * Micrometer's registry, {@code /health} one line. Off unless asked; loopback unless another address is given.
 */
final class MetricsServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MetricsServer.class);
    private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

    private final EventLoopGroup group;
    private final Channel channel;

    private MetricsServer(EventLoopGroup group, Channel channel) {
        this.group = group;
        this.channel = channel;
    }

    /** Binds {@code address} and serves; a port in use is a one-line {@link CliException}. */
    static MetricsServer start(InetSocketAddress address, PrometheusMeterRegistry registry) throws CliException {
        EventLoopGroup group = new NioEventLoopGroup(1);
        try {
            Channel ch = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            c.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(64 << 10),
                                    new Handler(registry));
                        }
                    }).bind(address).sync().channel();
            LOG.info("metrics at http://{}:{}/metrics", address.getHostString(), address.getPort());
            return new MetricsServer(group, ch);
        } catch (Exception e) {
            group.shutdownGracefully();
            String why = e instanceof BindException ? e.getMessage() : e.toString();
            throw new CliException("metrics endpoint: cannot listen on " + address.getHostString() + ":"
                    + address.getPort() + ": " + why);
        }
    }

    /** The port actually bound (useful when 0 was asked). */
    int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully().syncUninterruptibly();
    }

    private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final PrometheusMeterRegistry registry;

        Handler(PrometheusMeterRegistry registry) {
            this.registry = registry;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            String path = req.uri().split("\\?", 2)[0];
            FullHttpResponse resp;
            if (!req.method().equals(HttpMethod.GET)) {
                resp = text(HttpResponseStatus.METHOD_NOT_ALLOWED, "GET only\n", "text/plain");
            } else if (path.equals("/metrics")) {
                resp = text(HttpResponseStatus.OK, registry.scrape(), PROMETHEUS_TEXT);
            } else if (path.equals("/health")) {
                resp = text(HttpResponseStatus.OK, "ok\n", "text/plain");
            } else {
                resp = text(HttpResponseStatus.NOT_FOUND, "try /metrics or /health\n", "text/plain");
            }
            ctx.writeAndFlush(resp).addListener(ChannelFutureListener.CLOSE);
        }

        private static FullHttpResponse text(HttpResponseStatus status, String body, String type) {
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(bytes));
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
            r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
            return r;
        }
    }
}
