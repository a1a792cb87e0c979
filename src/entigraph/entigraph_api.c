// OpenAI chat-completions bodies: the request, the response, the entity JSON.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entigraph.h"
#include "util.h"

char *api_chat_request(const ApiConfig *cfg, const char *system, const char *user, int want_entities,
                       size_t *len) {
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "model", cfg->model);
    cJSON *msgs = cJSON_AddArrayToObject(req, "messages");
    if (system && system[0]) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", "system");
        cJSON_AddStringToObject(m, "content", system);
        cJSON_AddItemToArray(msgs, m);
    }
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", user);
    cJSON_AddItemToArray(msgs, m);
    cJSON_AddNumberToObject(req, "temperature", cfg->temperature);
    cJSON_AddNumberToObject(req, "max_tokens", cfg->max_completion_tokens);
    if (want_entities && cfg->json_mode) {
        cJSON *fmt = cJSON_AddObjectToObject(req, "response_format");
        cJSON *schema = cfg->json_mode == 2 && cfg->entity_schema ? cJSON_Parse(cfg->entity_schema) : NULL;
        if (schema) {   // OpenAI's form, which vLLM and llama.cpp's server also read
            cJSON_AddStringToObject(fmt, "type", "json_schema");
            cJSON *js = cJSON_AddObjectToObject(fmt, "json_schema");
            cJSON_AddStringToObject(js, "name", "entities");
            cJSON_AddItemToObject(js, "schema", schema);
        } else {
            cJSON_AddStringToObject(fmt, "type", "json_object");
        }
    }
    char *s = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    if (!s) die("out of memory building a request");
    *len = strlen(s);
    return s;
}

static double number_or(const cJSON *obj, const char *key, double fallback) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

int api_parse_chat(const char *body, size_t len, ChatResult *r, char *reason, size_t cap) {
    memset(r, 0, sizeof *r);
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(root)) {
        snprintf(reason, cap, "response is not a JSON object (%zu bytes)", len);
        cJSON_Delete(root);
        return -1;
    }
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *first = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(first, "message");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    if (!cJSON_IsString(content)) {
        const cJSON *em = cJSON_GetObjectItemCaseSensitive(err, "message");
        snprintf(reason, cap, "%s%.200s", cJSON_IsString(em) ? "server error: " : "response has no choices[0].message.content",
                 cJSON_IsString(em) ? em->valuestring : "");
        cJSON_Delete(root);
        return -1;
    }
    r->content = xstrdup(content->valuestring);
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(first, "finish_reason");
    r->finish_reason = xstrdup(cJSON_IsString(fr) ? fr->valuestring : "");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    r->model = xstrdup(cJSON_IsString(model) ? model->valuestring : "");
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    r->prompt_tokens = (long)number_or(usage, "prompt_tokens", 0);
    r->completion_tokens = (long)number_or(usage, "completion_tokens", 0);
    const cJSON *timings = cJSON_GetObjectItemCaseSensitive(root, "timings");
    r->server_prompt_ms = number_or(timings, "prompt_ms", 0);
    r->server_predicted_ms = number_or(timings, "predicted_ms", 0);
    cJSON_Delete(root);
    return 0;
}

void chat_result_free(ChatResult *r) {
    free(r->content);
    free(r->finish_reason);
    free(r->model);
    memset(r, 0, sizeof *r);
}

int api_parse_entities(const char *content, char **summary, char ***entities, int *n, char *reason,
                       size_t cap) {
    // models without a JSON mode wrap the object in prose or ``` fences: take the
    // outermost braces
    const char *open = strchr(content, '{'), *close = strrchr(content, '}');
    if (!open || !close || close < open) {
        snprintf(reason, cap, "malformed entity list: no JSON object in the reply");
        return -1;
    }
    cJSON *root = cJSON_ParseWithLength(open, (size_t)(close - open + 1));
    if (!cJSON_IsObject(root)) {
        snprintf(reason, cap, "malformed entity list: the reply is not valid JSON");
        cJSON_Delete(root);
        return -1;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "entities");
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(root, "summary");
    const cJSON *array = cJSON_IsArray(list) ? list : NULL, *e;
    int count = cJSON_GetArraySize(array), usable = 0;
    cJSON_ArrayForEach(e, array) {
        if (!cJSON_IsString(e)) {
            usable = -1;
            break;
        }
        usable += e->valuestring[strspn(e->valuestring, " \t\r\n")] != '\0';
    }
    if (!cJSON_IsArray(list) || usable <= 0 || (sum && !cJSON_IsString(sum))) {
        snprintf(reason, cap, "malformed entity list: %s",
                 !cJSON_IsArray(list) ? "\"entities\" is not a list"
                 : usable < 0         ? "an entity is not a string"
                 : usable == 0        ? "no entity names"
                                      : "\"summary\" is not a string");
        cJSON_Delete(root);
        return -1;
    }
    *summary = xstrdup(cJSON_IsString(sum) ? sum->valuestring : "");
    *entities = xcalloc((size_t)count, sizeof **entities);
    *n = 0;
    cJSON_ArrayForEach(e, list)(*entities)[(*n)++] = xstrdup(e->valuestring);
    cJSON_Delete(root);
    return 0;
}
