/*
 * status.c - names and sentences for rdv_status, generated from the one
 * X-macro table in rdv/status.h.
 */
#include "rdv/status.h"

const char *rdv_strerror(int status)
{
    switch (status) {
#define RDV_STATUS_TEXT(name, value, text) \
    case (value):                          \
        return text;
        RDV_STATUS_MAP(RDV_STATUS_TEXT)
#undef RDV_STATUS_TEXT
    }
    return "unknown status";
}

const char *rdv_status_name(int status)
{
    switch (status) {
#define RDV_STATUS_NAME(name, value, text) \
    case (value):                          \
        return "RDV_" #name;
        RDV_STATUS_MAP(RDV_STATUS_NAME)
#undef RDV_STATUS_NAME
    }
    return "RDV_UNKNOWN";
}
