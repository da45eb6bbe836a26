package dev.sluice.platform.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.function.Function;

/** One page of a collection; {@code nextPageToken} is absent on the last page. */
public record Page<T>(List<T> items, @JsonInclude(JsonInclude.Include.NON_NULL) String nextPageToken) {

    /**
     * Builds a page from rows fetched with limit pageSize + 1: the extra row only proves a next page exists.
     */
    public static <E, T> Page<T> of(List<E> rows, PageRequest request, ResourceId kind, Function<E, String> id,
                                    Function<E, T> view) {
        boolean more = rows.size() > request.pageSize();
        List<E> page = more ? rows.subList(0, request.pageSize()) : rows;
        String next = more ? PageRequest.tokenAfter(kind, id.apply(page.get(page.size() - 1))) : null;
        return new Page<>(page.stream().map(view).toList(), next);
    }
}
