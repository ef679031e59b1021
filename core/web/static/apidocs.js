// The API documentation page: Swagger UI over the hub's OpenAPI document. "Try it out" calls
// the API with this browser's session and its CSRF token.
import { csrfToken } from "./net.js";

const root = document.getElementById("swagger-ui");
if (root && window.SwaggerUIBundle) {
  window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: false,
    withCredentials: true,
    requestInterceptor: (request) => {
      request.headers["X-CSRF-Token"] = csrfToken();
      return request;
    },
  });
}
