package jbtrfs.device;

import java.io.IOException;

/** An image someone else holds in a way that rules out this open; the message is one line naming the holder. */
public final class ImageInUseException extends IOException {
    public ImageInUseException(String message) { super(message); }
}
