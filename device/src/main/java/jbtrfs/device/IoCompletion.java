package jbtrfs.device;

/** A request that succeeded: every byte moved ({@code bytes == request.length()}), and how long it took. */
public record IoCompletion(IoRequest request, int bytes, long latencyNanos) {
}
