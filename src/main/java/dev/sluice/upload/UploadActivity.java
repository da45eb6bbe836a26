package dev.sluice.upload;

import jakarta.enterprise.context.ApplicationScoped;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** Which images are being uploaded on this replica (one upload per image at a time; the collector waits). */
@ApplicationScoped
public class UploadActivity {
    private final Set<String> active = ConcurrentHashMap.newKeySet();

    public boolean begin(String imageId) {
        return active.add(imageId);
    }

    public void end(String imageId) {
        active.remove(imageId);
    }

    public boolean anyActive() {
        return !active.isEmpty();
    }
}
