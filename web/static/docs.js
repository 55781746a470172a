// Renders openapi.json as a plain page: operations, parameters, request and response schemas.
// Every string from the schema goes in with textContent.
(function () {
  'use strict';
  var holder = document.getElementById('operations');

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function resolve(spec, schema) {
    var seen = 0;
    while (schema && schema.$ref && seen++ < 20) {
      schema = schema.$ref.replace(/^#\//, '').split('/').reduce(function (o, k) { return o && o[k]; }, spec);
    }
    return schema || {};
  }

  function typeName(spec, schema) {
    if (!schema) return '';
    if (schema.$ref) return schema.$ref.split('/').pop();
    if (schema.anyOf) return schema.anyOf.map(function (s) { return typeName(spec, s); }).join(' | ');
    if (schema.type === 'array') {
      if (schema.prefixItems) return '[' + schema.prefixItems.map(function (s) { return typeName(spec, s); }).join(', ') + ']';
      return typeName(spec, schema.items) + '[]';
    }
    if (schema.enum) return schema.enum.map(function (v) { return JSON.stringify(v); }).join(' | ');
    if (schema.const !== undefined) return JSON.stringify(schema.const);
    if (schema.type === 'object' && schema.additionalProperties) return '{string: ' + typeName(spec, schema.additionalProperties) + '}';
    return schema.type || 'any';
  }

  function fieldsTable(spec, schema, depth, seen) {
    schema = resolve(spec, schema);
    if (schema.type === 'array') schema = resolve(spec, schema.items);
    var props = schema.properties;
    if (!props) return null;
    var table = el('table');
    var required = schema.required || [];
    Object.keys(props).forEach(function (name) {
      var prop = props[name];
      var row = el('tr');
      row.appendChild(el('td', null, '')).appendChild(el('code', null, name + (required.indexOf(name) >= 0 ? '' : '?')));
      row.appendChild(el('td', 'type', typeName(spec, prop)));
      var desc = el('td', 'desc', resolve(spec, prop).description || prop.description || '');
      row.appendChild(desc);
      table.appendChild(row);
      var ref = prop.$ref || (prop.items && prop.items.$ref) ||
        (prop.anyOf && prop.anyOf.map(function (s) { return s.$ref || (s.items && s.items.$ref); }).filter(Boolean)[0]) ||
        (prop.additionalProperties && prop.additionalProperties.$ref);
      if (ref && depth < 3 && seen.indexOf(ref) < 0) {
        var inner = fieldsTable(spec, { $ref: ref }, depth + 1, seen.concat([ref]));
        if (inner) {
          var details = el('details');
          details.appendChild(el('summary', null, ref.split('/').pop()));
          details.appendChild(inner);
          desc.appendChild(details);
        }
      }
    });
    return table;
  }

  function render(spec) {
    document.getElementById('api-title').textContent = spec.info.title + ' ' + (spec.info.version || '');
    document.getElementById('api-description').textContent = spec.info.description || '';
    holder.textContent = '';
    Object.keys(spec.paths).forEach(function (path) {
      Object.keys(spec.paths[path]).forEach(function (method) {
        var op = spec.paths[path][method];
        var box = el('section', 'op');
        var head = el('h2');
        head.appendChild(el('span', 'method ' + method, method.toUpperCase()));
        head.appendChild(document.createTextNode(path));
        box.appendChild(head);
        if (op.summary) box.appendChild(el('p', 'summary', op.summary));
        if (op.parameters && op.parameters.length) {
          box.appendChild(el('h3', null, 'Parameters'));
          var table = el('table');
          op.parameters.forEach(function (p) {
            var row = el('tr');
            row.appendChild(el('td', null, '')).appendChild(el('code', null, p.name));
            row.appendChild(el('td', 'type', p.in + ' · ' + typeName(spec, p.schema)));
            row.appendChild(el('td', 'desc', p.description || (p.required ? 'required' : '')));
            table.appendChild(row);
          });
          box.appendChild(table);
        }
        var body = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
        if (body) {
          box.appendChild(el('h3', null, 'Request body (JSON): ' + typeName(spec, body.schema)));
          var fields = fieldsTable(spec, body.schema, 0, []);
          if (fields) box.appendChild(fields);
        }
        Object.keys(op.responses || {}).forEach(function (code) {
          var response = op.responses[code];
          var content = response.content || {};
          var kind = Object.keys(content)[0];
          var schema = kind && content[kind].schema;
          box.appendChild(el('h3', null, 'Response ' + code + (kind ? ' (' + kind + ')' : '') + ': ' +
                             (schema ? typeName(spec, schema) : '') + ' ' + (response.description || '')));
          var table = schema && fieldsTable(spec, schema, 0, []);
          if (table) box.appendChild(table);
        });
        holder.appendChild(box);
      });
    });
  }

  fetch('openapi.json')  // opened as /docs?token=...: the cookie carries it
    .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
    .then(render)
    .catch(function (e) { holder.textContent = '读不到 openapi.json（' + e.message + '）。'; });
})();
