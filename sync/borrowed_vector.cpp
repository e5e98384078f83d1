// Borrowed vectors: one ALTREP class per borrowable atomic type. Each
// instance keeps an external pointer to its elements in data1 (the
// pointer's protected value is the owner) and its length, as a double,
// in data2.
#include "sync/detail/borrowed_vector.hpp"

#include <R_ext/Altrep.h>
#include <R_ext/Rdynload.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

namespace mirai {
namespace sync {
namespace detail {
namespace {

struct borrowed_class {
    SEXPTYPE type;
    const char* name;
    R_altrep_class_t altrep;
};

borrowed_class classes[] = {
    {LGLSXP, "mirai_cpp_borrowed_logical", {nullptr}},
    {INTSXP, "mirai_cpp_borrowed_integer", {nullptr}},
    {REALSXP, "mirai_cpp_borrowed_double", {nullptr}},
    {CPLXSXP, "mirai_cpp_borrowed_complex", {nullptr}},
    {RAWSXP, "mirai_cpp_borrowed_raw", {nullptr}},
};

// The package name recorded with the classes in serialized streams.
constexpr const char* class_package = "mirai.cpp";

bool is_registered = false;

thread_local buffer_sink* current_sink = nullptr;
thread_local buffer_source* current_source = nullptr;

borrowed_class* find_class(SEXPTYPE type)
{
    for (borrowed_class& entry : classes) {
        if (entry.type == type)
            return &entry;
    }
    return nullptr;
}

void* elements_of(SEXP x)
{
    return R_ExternalPtrAddr(R_altrep_data1(x));
}

R_xlen_t length_method(SEXP x)
{
    return static_cast<R_xlen_t>(REAL(R_altrep_data2(x))[0]);
}

void* dataptr_method(SEXP x, Rboolean /* writeable */)
{
    return elements_of(x);
}

const void* dataptr_or_null_method(SEXP x)
{
    return elements_of(x);
}

// Element and region reads straight from the elements. Without them R
// reads each element through the Dataptr method. On 3 million doubles a
// loop over x[i] took 1.75 times as long as on an ordinary vector, and
// 1.45 times with them.
template <typename T>
T elt_method(SEXP x, R_xlen_t i)
{
    return static_cast<const T*>(elements_of(x))[i];
}

template <typename T>
R_xlen_t get_region_method(SEXP x, R_xlen_t start, R_xlen_t n, T* out)
{
    R_xlen_t length = length_method(x);
    R_xlen_t count = start < length ? std::min(n, length - start) : 0;
    std::memcpy(out, static_cast<const T*>(elements_of(x)) + start,
                static_cast<std::size_t>(count) * sizeof(T));
    return count;
}

// Inside sync's serializer, a reference to an out-of-band buffer: the
// buffer's index, the vector's type and its length, as doubles, so that
// the receiver can check the buffer against both. Elsewhere nullptr,
// which makes R write the elements into the stream.
SEXP serialized_state_method(SEXP x)
{
    buffer_sink* sink = current_sink;
    if (sink == nullptr)
        return nullptr;
    R_xlen_t length = length_method(x);
    std::size_t bytes = static_cast<std::size_t>(length) *
                        borrowable_element_size(TYPEOF(x));
    int index = sink->add(elements_of(x), bytes);
    if (index < 0)
        return nullptr;
    SEXP state = Rf_allocVector(REALSXP, 3);
    REAL(state)[0] = index;
    REAL(state)[1] = TYPEOF(x);
    REAL(state)[2] = static_cast<double>(length);
    return state;
}

// True when value is a whole number from 0 to max.
bool is_count(double value, double max)
{
    return std::isfinite(value) && value >= 0 && value <= max &&
           value == std::floor(value);
}

SEXPTYPE type_of_class(SEXP altrep_class)
{
    for (const borrowed_class& entry : classes) {
        if (entry.altrep.ptr == altrep_class)
            return entry.type;
    }
    Rf_error("unserialize borrowed vector: unknown class");
}

SEXP unserialize_method(SEXP altrep_class, SEXP state)
{
    SEXPTYPE type = type_of_class(altrep_class);
    if (TYPEOF(state) != REALSXP || XLENGTH(state) != 3)
        Rf_error("malformed out-of-band reference: expected a double "
                 "vector of length 3, got type '%s' of length %lld",
                 Rf_type2char(TYPEOF(state)),
                 static_cast<long long>(XLENGTH(state)));
    double index = REAL(state)[0];
    double stored_type = REAL(state)[1];
    double length = REAL(state)[2];
    if (!is_count(index, INT_MAX) || !is_count(length, R_XLEN_T_MAX))
        Rf_error("malformed out-of-band reference: index %.15g and length "
                 "%.15g must be whole numbers from 0",
                 index, length);
    if (stored_type != type)
        Rf_error("malformed out-of-band reference: a vector of type %.15g "
                 "read as type '%s'",
                 stored_type, Rf_type2char(type));
    buffer_source* source = current_source;
    if (source == nullptr)
        Rf_error("out-of-band vector outside a mirai-cpp payload: only "
                 "mirai-cpp's unserialize can read it");
    return source->take(static_cast<int>(index), type,
                        static_cast<R_xlen_t>(length));
}

Rboolean inspect_method(SEXP x, int, int, int,
                        void (*)(SEXP, int, int, int))
{
    Rprintf(" mirai-cpp borrowed vector of %lld elements at %p\n",
            static_cast<long long>(length_method(x)), elements_of(x));
    return TRUE;
}

R_altrep_class_t make_class(SEXPTYPE type, const char* name, DllInfo* dll)
{
    switch (type) {
    case LGLSXP:
        return R_make_altlogical_class(name, class_package, dll);
    case INTSXP:
        return R_make_altinteger_class(name, class_package, dll);
    case REALSXP:
        return R_make_altreal_class(name, class_package, dll);
    case CPLXSXP:
        return R_make_altcomplex_class(name, class_package, dll);
    default:
        return R_make_altraw_class(name, class_package, dll);
    }
}

void set_element_methods(R_altrep_class_t altrep, SEXPTYPE type)
{
    switch (type) {
    case LGLSXP:
        R_set_altlogical_Elt_method(altrep, elt_method<int>);
        R_set_altlogical_Get_region_method(altrep, get_region_method<int>);
        break;
    case INTSXP:
        R_set_altinteger_Elt_method(altrep, elt_method<int>);
        R_set_altinteger_Get_region_method(altrep, get_region_method<int>);
        break;
    case REALSXP:
        R_set_altreal_Elt_method(altrep, elt_method<double>);
        R_set_altreal_Get_region_method(altrep, get_region_method<double>);
        break;
    case CPLXSXP:
        R_set_altcomplex_Elt_method(altrep, elt_method<Rcomplex>);
        R_set_altcomplex_Get_region_method(altrep,
                                           get_region_method<Rcomplex>);
        break;
    default:
        R_set_altraw_Elt_method(altrep, elt_method<Rbyte>);
        R_set_altraw_Get_region_method(altrep, get_region_method<Rbyte>);
        break;
    }
}

void set_methods(R_altrep_class_t altrep, SEXPTYPE type)
{
    R_set_altrep_Length_method(altrep, length_method);
    R_set_altrep_Serialized_state_method(altrep, serialized_state_method);
    R_set_altrep_Unserialize_method(altrep, unserialize_method);
    R_set_altrep_Inspect_method(altrep, inspect_method);
    R_set_altvec_Dataptr_method(altrep, dataptr_method);
    R_set_altvec_Dataptr_or_null_method(altrep, dataptr_or_null_method);
    set_element_methods(altrep, type);
}

} // namespace

std::size_t borrowable_element_size(SEXPTYPE type)
{
    switch (type) {
    case LGLSXP:
    case INTSXP:
        return sizeof(int);
    case REALSXP:
        return sizeof(double);
    case CPLXSXP:
        return sizeof(Rcomplex);
    case RAWSXP:
        return 1;
    default:
        return 0;
    }
}

void register_borrowed_vectors()
{
    if (is_registered)
        return;
    DllInfo* dll = R_getEmbeddingDllInfo();
    for (borrowed_class& entry : classes) {
        entry.altrep = make_class(entry.type, entry.name, dll);
        set_methods(entry.altrep, entry.type);
    }
    is_registered = true;
}

SEXP make_borrowed_vector(SEXPTYPE type, void* data, R_xlen_t length,
                          SEXP owner)
{
    borrowed_class* entry = find_class(type);
    if (entry == nullptr || !is_registered)
        Rf_error("make borrowed vector: type '%s' cannot be borrowed",
                 Rf_type2char(type));
    SEXP pointer = PROTECT(R_MakeExternalPtr(data, R_NilValue, owner));
    SEXP count = PROTECT(Rf_ScalarReal(static_cast<double>(length)));
    SEXP vector = R_new_altrep(entry->altrep, pointer, count);
    UNPROTECT(2);
    return vector;
}

bool is_borrowed_vector(SEXP x)
{
    if (!ALTREP(x))
        return false;
    borrowed_class* entry = find_class(TYPEOF(x));
    return entry != nullptr && is_registered &&
           R_altrep_inherits(x, entry->altrep);
}

scoped_buffer_sink::scoped_buffer_sink(buffer_sink* sink)
    : previous_(current_sink)
{
    current_sink = sink;
}

scoped_buffer_sink::~scoped_buffer_sink()
{
    current_sink = previous_;
}

scoped_buffer_source::scoped_buffer_source(buffer_source* source)
    : previous_(current_source)
{
    current_source = source;
}

scoped_buffer_source::~scoped_buffer_source()
{
    current_source = previous_;
}

} // namespace detail
} // namespace sync
} // namespace mirai
