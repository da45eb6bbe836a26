package dev.sluice.platform.cache;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * A least-recently-used map bounded by total weight (e.g. bytes). One lock guards it: operations are O(1) and
 * hold it for nanoseconds, so contention is not a concern at the request rates one replica sees.
 */
public final class WeightedLru<K, V> {
    private final long capacity;
    private final ToLongFunction<V> weigher;
    private final LinkedHashMap<K, V> map = new LinkedHashMap<>(256, 0.75f, true);
    private long weight;

    public WeightedLru(long capacity, ToLongFunction<V> weigher) {
        if (capacity < 0) {
            throw new IllegalArgumentException("capacity < 0");
        }
        this.capacity = capacity;
        this.weigher = weigher;
    }

    public synchronized V get(K key) {
        return map.get(key);
    }

    public synchronized void put(K key, V value) {
        long w = weigher.applyAsLong(value);
        if (w > capacity) {
            return;
        }
        V old = map.put(key, value);
        if (old != null) {
            weight -= weigher.applyAsLong(old);
        }
        weight += w;
        for (Iterator<Map.Entry<K, V>> it = map.entrySet().iterator(); weight > capacity && it.hasNext(); ) {
            Map.Entry<K, V> eldest = it.next();
            weight -= weigher.applyAsLong(eldest.getValue());
            it.remove();
        }
    }

    public synchronized void remove(K key) {
        V old = map.remove(key);
        if (old != null) {
            weight -= weigher.applyAsLong(old);
        }
    }

    public synchronized long weight() {
        return weight;
    }
}
