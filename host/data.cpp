#include "host/data.hpp"

namespace mirai {
namespace host {

Rcpp::List to_list(const data& values)
{
    Rcpp::List list(values.size());
    Rcpp::CharacterVector names(values.size());
    for (std::size_t i = 0; i < values.size(); i++) {
        list[i] = values[i].second.sexp();
        names[i] = values[i].first;
    }
    list.attr("names") = names;
    return list;
}

} // namespace host
} // namespace mirai
