/*
 * harness/run/store_recorder.h - a store decorator that records every op a
 * rank makes into its result slot: the op in flight (for a hang report)
 * and, when the area has room for events, each op with its duration
 * (for the Chrome trace). In a sequenced run it also asks the parent's
 * sequencer for each op's turn (schedule/sequencer.h).
 */
#ifndef RDV_HARNESS_STORE_RECORDER_H
#define RDV_HARNESS_STORE_RECORDER_H

#include "rdv/store.h"
#include "common/result_area.h"

/* Wraps inner; the new handle owns inner and closes it. events may be
 * NULL (cap 0). seq_fd is the rank's sequencer socket
 * (rdv_sequencer_rank_fd), or -1 for an unsequenced run; the recorder
 * does not close it. RDV_ENOMEM on failure, inner left untouched. */
int rdv_recorder_open(rdv_store *inner, rdv_slot *slot,
                      rdv_op_event *events, uint32_t cap, int seq_fd,
                      rdv_store **out);

#endif
