// Finding the large vectors of an object and lending them out as borrowed
// vectors, for payloads that carry them out of band.
#include "sync/detail/large_vectors.hpp"

#include "sync/detail/borrowed_vector.hpp"

namespace mirai {
namespace sync {
namespace detail {
namespace {

constexpr int max_depth = 4;
constexpr R_xlen_t max_elements = 100000;

bool is_list(SEXP x)
{
    return TYPEOF(x) == VECSXP || TYPEOF(x) == EXPRSXP;
}

// True when x itself goes out of band.
bool is_large_vector(SEXP x)
{
    std::size_t element = borrowable_element_size(TYPEOF(x));
    if (element == 0)
        return false;
    if (is_borrowed_vector(x))
        return true;
    // Other ALTREP vectors qualify when their elements are in memory, as
    // in the wrappers that structure() and attr<-() make. The others,
    // such as 1:n, have a compact form of their own.
    if (ALTREP(x) && DATAPTR_OR_NULL(x) == nullptr)
        return false;
    return static_cast<std::size_t>(XLENGTH(x)) >=
           out_of_band_min_bytes / element;
}

// The elements a search may still visit, shared by one whole search so
// that count and lend stop at the same place.
struct search_budget {
    R_xlen_t elements = max_elements;

    bool enter(SEXP list)
    {
        if (XLENGTH(list) > elements)
            return false;
        elements -= XLENGTH(list);
        return true;
    }
};

std::size_t count_within(SEXP x, int depth, search_budget& budget)
{
    if (is_large_vector(x))
        return 1;
    if (!is_list(x) || depth >= max_depth || !budget.enter(x))
        return 0;
    std::size_t count = 0;
    for (R_xlen_t i = 0; i < XLENGTH(x); i++)
        count += count_within(VECTOR_ELT(x, i), depth + 1, budget);
    return count;
}

// A borrowed vector over x's elements, with x's attributes. x itself is
// the owner, so it lives as long as the borrowed vector does.
SEXP lend_vector(SEXP x)
{
    if (is_borrowed_vector(x))
        return x;
    // Not DATAPTR(), which would expand an ALTREP vector (is_large_vector
    // has made sure the pointer exists).
    void* elements = const_cast<void*>(DATAPTR_OR_NULL(x));
    SEXP lent = PROTECT(
        make_borrowed_vector(TYPEOF(x), elements, XLENGTH(x), x));
    SHALLOW_DUPLICATE_ATTRIB(lent, x);
    UNPROTECT(1);
    return lent;
}

SEXP lend_within(SEXP x, int depth, search_budget& budget)
{
    if (is_large_vector(x))
        return lend_vector(x);
    if (!is_list(x) || depth >= max_depth)
        return x;
    // Count first, on a copy of the budget, so that a list is copied only
    // when something in it is lent.
    search_budget probe = budget;
    if (count_within(x, depth, probe) == 0) {
        budget = probe;
        return x;
    }
    budget.enter(x);
    SEXP copy = PROTECT(Rf_shallow_duplicate(x));
    for (R_xlen_t i = 0; i < XLENGTH(x); i++) {
        SEXP element = VECTOR_ELT(x, i);
        SEXP lent = lend_within(element, depth + 1, budget);
        if (lent != element)
            SET_VECTOR_ELT(copy, i, lent);
    }
    UNPROTECT(1);
    return copy;
}

} // namespace

std::size_t count_large_vectors(SEXP object)
{
    search_budget budget;
    return count_within(object, 0, budget);
}

SEXP lend_large_vectors(SEXP object)
{
    search_budget budget;
    return lend_within(object, 0, budget);
}

} // namespace detail
} // namespace sync
} // namespace mirai
