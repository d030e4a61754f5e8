/* Keeps tn_test_support non-empty before any helper exists. */
typedef int tn__test_support_placeholder;
