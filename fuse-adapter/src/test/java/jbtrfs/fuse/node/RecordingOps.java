package jbtrfs.fuse.node;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jbtrfs.fs.FsOperations;

/** A real {@link FsOperations} with every call recorded (name and arguments), to see what the node layer asked. */
final class RecordingOps {
    record Call(String method, List<Object> args) {
    }

    private final List<Call> calls = new ArrayList<>();
    private final FsOperations ops;

    RecordingOps(FsOperations real) {
        this.ops = (FsOperations) Proxy.newProxyInstance(FsOperations.class.getClassLoader(),
                new Class<?>[] {FsOperations.class}, (proxy, m, args) -> {
                    synchronized (calls) {
                        calls.add(new Call(m.getName(), args == null ? List.of() : Arrays.asList(args)));
                    }
                    try {
                        return m.invoke(real, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    FsOperations ops() {
        return ops;
    }

    /** The calls of {@code method} so far. */
    List<Call> calls(String method) {
        synchronized (calls) {
            return calls.stream().filter(c -> c.method().equals(method)).toList();
        }
    }
}
