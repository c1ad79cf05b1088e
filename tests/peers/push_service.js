// Starts web-push-testing's own server and model (unchanged), listening on 127.0.0.1 only and
// handing out endpoints on 127.0.0.1, instead of the package's all-interfaces default.
'use strict';
const TestingServer = require('web-push-testing/src/server.js');
const {PushApiModel} = require('web-push-testing/src/PushApiModel.js');

const port = Number(process.argv[2]);
const model = new PushApiModel();
const server = new TestingServer(model, port);
model.notifyUrl = 'http://127.0.0.1:' + port + '/notify/';
const listen = server._app.listen.bind(server._app);
server._app.listen = (p, callback) => listen(p, '127.0.0.1', callback);
server.startServer();
